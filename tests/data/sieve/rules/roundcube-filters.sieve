require ["copy","fileinto","imap4flags","regex","relational"];
# Filters written by Roundcube

# rule:[Spam]
if header :contains "x-spam-flag" "YES"
{
	fileinto "Junk";
	stop;
}
# rule:[Chef]
if allof (address :is "from" "chef@ac-exemple.fr", header :contains "subject" ["urgent", "important"])
{
	addflag "\\Flagged";
	fileinto :copy "Direction";
}
# rule:[Listes]
if anyof (header :regex "list-id" "<.*\\.education\\.fr>", header :value "ge" "x-priority" "4")
{
	fileinto "Listes";
}
# rule:[Ancien]
if false # header :contains "subject" "[old]"
{
	discard;
	stop;
}
