"""modedrop's benchmark suite (`make bench`): see benchmarks/README.md."""
