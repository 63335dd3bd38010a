# Filtres de Marie Dupont
# Modifiés avec Roundcube

require ["body","comparator-i;ascii-numeric","copy","envelope","fileinto","imap4flags","regex","relational","subaddress"];
# rule:[Direction]
if allof (address :domain :is "from" "ac-exemple.fr", header :contains "subject" ["urgent","important"])
{
	addflag "\\Flagged";
	fileinto :copy "Direction";
}
# rule:[Listes de diffusion]
if anyof (exists "list-id", header :contains "precedence" ["list","bulk"])
{
	fileinto "Listes";
	stop;
}
# rule:[Inscriptions]
if address :detail :is "to" "inscriptions"
{
	fileinto "Inscriptions";
}
# rule:[Gros messages]
if size :over 10M
{
	fileinto "Gros messages";
}
# rule:[Factures]
if body :text :contains "facture"
{
	fileinto "Comptabilité";
}
# rule:[Retours]
if envelope :is "from" "MAILER-DAEMON@ac-exemple.fr"
{
	discard;
	stop;
}
# rule:[Tickets]
if false # header :regex "subject" "^\\[ticket-[0-9]+\\]"
{
	redirect :copy "support@ac-exemple.fr";
}
# rule:[Score]
if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "7"
{
	fileinto "Junk";
	stop;
}
