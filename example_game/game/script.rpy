## A short playable story with a few choices, enough to make saves worth syncing.

define e = Character("Eileen")
define m = Character("Me")

default met_eileen = False
default tea_or_coffee = None
default endings_count = 0
default persistent.endings_seen = set()

label start:
    "It is raining on the way to the station."
    $ met_eileen = True
    e "Oh, hello! Waiting for the 8:15 too?"

    menu:
        e "Want something warm while we wait?"
        "Tea, please.":
            $ tea_or_coffee = "tea"
            e "Good choice. The café here brews it properly."
        "Coffee, strong.":
            $ tea_or_coffee = "coffee"
            e "Brave. Their coffee could wake the dead."

    "We talk about books until the train arrives."
    "Save now, on this computer. Load it later on another: it will be there."

    menu:
        e "Shall we sit together?"
        "Yes.":
            jump ending_friends
        "I'd rather read.":
            jump ending_quiet

label ending_friends:
    e "Then it's settled. Same train tomorrow?"
    $ persistent.endings_seen.add("friends")
    # Ren'Py before 8.2 interpolates only names and attributes, not len(...).
    $ endings_count = len(persistent.endings_seen)
    "Ending: Friends on the 8:15 ([endings_count] of 2 endings seen)."
    return

label ending_quiet:
    "I read my book. Eileen waves as she leaves at her stop."
    $ persistent.endings_seen.add("quiet")
    $ endings_count = len(persistent.endings_seen)
    "Ending: A quiet ride ([endings_count] of 2 endings seen)."
    return

init python:
    # Endings seen on any device count: merge the sets instead of keeping the newest one
    # (Ren'Py merges persistent per field when a synced copy arrives).
    def merge_endings(old, new, current):
        current.update(old)
        current.update(new)
        return current

    renpy.register_persistent("endings_seen", merge_endings)
