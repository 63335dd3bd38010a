require ["duplicate","editheader","fileinto","index"];
# rule:[Doublons]
if duplicate :seconds 3600
{
	fileinto "Doublons";
	stop;
}
# rule:[Relais]
if header :index 2 :contains "received" "relais.ac-exemple.fr"
{
	addheader "X-Relais" "oui";
}
# rule:[Suivi]
if exists "x-tracking-id"
{
	deleteheader "x-tracking-id";
}
