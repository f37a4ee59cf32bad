"""dataplane/plan"""
