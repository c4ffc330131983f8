open("notes.txt", "w").write("x")
