require ["date","fileinto","relational","vacation"];
# rule:[Absence]
if allof (currentdate :zone "+0100" :value "ge" "date" "2024-07-01", currentdate :zone "+0100" :value "le" "date" "2024-08-25")
{
	vacation :days 7 :addresses ["marie.dupont@ac-exemple.fr","m.dupont@ac-exemple.fr"] :subject "Absente jusqu'au 25 août" :from "marie.dupont@ac-exemple.fr" text:
Bonjour,

Je suis absente jusqu'au 25 août.
..
En cas d'urgence : secretariat@ac-exemple.fr
.
;
	fileinto "Pendant l'absence";
}
# rule:[Spam]
if header :contains "x-spam-flag" "YES"
{
	fileinto "Junk";
}
