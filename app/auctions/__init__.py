"""Auctions (竞价拍卖). This release creates them from listings; the auctions issue runs them."""
