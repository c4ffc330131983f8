import yaml

document = "!!python/object/apply:os.system ['id']"
config = yaml.load(document, Loader=yaml.Loader)
more = yaml.unsafe_load(document)
print(config, more)
