"""The door: the path of one scan, top to bottom.

- ``scanloop``: frame -> decoder -> credential -> cooldown -> the desk -> lights, beep, listeners;
- ``checkin``: the check-in desk, the rules applied in one store transaction;
- ``rules``: what a presentation means, given the mode and who is inside (pure functions);
- ``cooldown``: the same code again within the cooldown is the same presentation;
- ``outcome``: what a presentation came to, for the lights, the screens and the slip;
- ``autocheckout``: visits closed by the rules (max stay, closing time) when nobody checks out;
- ``console_screen``: the simulator's screen, on the terminal.
"""
