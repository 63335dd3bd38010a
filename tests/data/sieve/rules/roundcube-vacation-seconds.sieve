require ["date","relational","vacation-seconds"];
# rule:[Fermeture]
if allof (currentdate :zone "+0100" :value "ge" "iso8601" "2024-12-23T18:00:00+01:00", currentdate :zone "+0100" :value "le" "iso8601" "2025-01-06T08:00:00+01:00")
{
	vacation :seconds 86400 :subject "Fermeture de fin d'année" :handle "fermeture-2024" "Le service est fermé jusqu'au 6 janvier.";
}
