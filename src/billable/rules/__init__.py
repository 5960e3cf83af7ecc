"""Pure billing rules: no SQL, no HTTP. The reference the engine is tested against."""
