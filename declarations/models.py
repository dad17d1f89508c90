# Declarations arrive with the signing capability (issue 4).
