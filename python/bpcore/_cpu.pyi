def supports(feature: str, /) -> bool:
    """Whether this CPU runs the 'avx2' or 'avx512' build of the core."""
