"""Domain logic: plain values and a database session in, plain results or domain errors out."""
