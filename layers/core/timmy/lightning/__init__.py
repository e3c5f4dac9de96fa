"""Lightning: one backend interface, an LNbits implementation and a stub."""
