print("socket.create_connection")
