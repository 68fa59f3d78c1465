## Options of the example game. Only what the cloud integration cares about is here:
## config.save_directory is also the renpy-cloud game id.

define config.name = "Cloud Save Demo"
define config.version = "1.0"
define build.name = "CloudSaveDemo"
define config.save_directory = "CloudSaveDemo-1732500000"
define config.has_autosave = True
define config.autosave_slots = 4
