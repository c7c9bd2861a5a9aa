"""Tax-reduction filings (技术交易减免税): rule sets as data, pure calculators, filings."""
