"""dataplane/grammar"""
