import configparser
from pathlib import Path

ini = Path("app.ini")
ini.write_text("[server]\nport = 8080\nhost = localhost\n")
config = configparser.ConfigParser()
config.read(ini)
print(config["server"]["host"], config.getint("server", "port"))
