require ["include", "variables"];
global "tag";
set "tag" "${tag}-included";
return;
set "tag" "never";
