require ["date","relational","vacation"];
# rule:[Vacation]
if allof (currentdate :zone "+0100" :value "ge" "date" "2024-07-01", currentdate :zone "+0100" :value "le" "date" "2024-07-31")
{
	vacation :days 7 :subject "Absent" :from "marie.dupont@ac-exemple.fr" text:
Bonjour,
je suis absente jusqu' au 31 juillet.
..
Marie
.
;
}
# rule:[Tout]
if true
{
	keep;
}
