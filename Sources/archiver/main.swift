print("archiver")
