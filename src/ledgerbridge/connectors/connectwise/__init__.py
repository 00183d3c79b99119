"""ConnectWise PSA (Manage): the REST client, its query conditions and the source adapter."""
