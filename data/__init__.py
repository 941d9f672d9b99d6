"""Demo data: a seeded synthetic county and its generator."""
