"""dataplane/sql"""
