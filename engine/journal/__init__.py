"""The durable record of fills, decisions and busts."""
