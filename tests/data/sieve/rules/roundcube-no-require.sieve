# Script du secrétariat
# (les règles sont gérées dans le webmail)

# rule:[Publicité]
if anyof (header :contains "subject" "publicité", address :is "from" "promo@example.com")
{
	discard;
	stop;
}
# rule:[Désactivée]
if false # header :contains "subject" "test"
{
	discard;
}
# rule:[Tout le reste]
if true
{
	keep;
}
