"""The health declaration at the door and on the staff page (tờ khai y tế): the questions
(:mod:`.questions`) and the venue's policy (:mod:`.declarations`). Where a declaration is kept is
the store's (:mod:`kiosk.store.declarations`); the desk applies the policy at each check-in."""
