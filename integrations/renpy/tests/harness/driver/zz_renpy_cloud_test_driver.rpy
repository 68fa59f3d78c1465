# TEST-ONLY. renpy-cloud's real-engine suite copies this file and
# renpy_cloud_test_driver.py into a copy of a game; no game ships them.
# Without RENPY_CLOUD_TEST_STEPS in the environment they do nothing.
#
# The steps run in two places (see renpy_cloud_test_driver.py):
# - before the main menu is shown (the `before_main_menu` label, in the main
#   menu's context): reports and anything that needs no game in progress;
# - in a game started the way the main menu's Start button starts one
#   (renpy.jump_out_of_context), at the label below.

# Late (999 is the latest priority lint accepts), so Ren'Py's own init code,
# which creates the callback lists, and the game's have run.
init 999 python:
    import renpy_cloud_test_driver
    renpy_cloud_test_driver.install()

label _renpy_cloud_test_before_main_menu:
    $ renpy_cloud_test_driver.before_main_menu()
    return

# One step per execution of this statement, so each step has its own rollback
# entry: a save made here resumes here when it is loaded, and the driver (whose
# state lives in its module, outside the store) goes on with the next step.
label _renpy_cloud_test_game:
    $ renpy_cloud_test_driver.game_step()
    jump _renpy_cloud_test_game
