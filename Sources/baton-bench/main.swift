print("baton-bench: not written yet")
