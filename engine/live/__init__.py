"""`ceguard serve`: the live acceptor around the surveillance core."""
