"""SPEC §2's placeholder values, for the bench peers' own cleaning (pinpipe's
catalogue is functions/pinpipe/src/record/catalogue.rs; the peers stand apart from it,
as the original notebooks did)."""

PLACEHOLDERS = [
    "",
    "No description available Story format",
    "No description available",
    "No Title Data Available",
    "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",
    "Image src error.",
    "User Info Error",
    "Untitled",
]
