"""Printing for people without a phone: a check-in slip to show on the way out, or a personal QR
card staff print once for someone who comes often. ``layout`` draws them as 1-bit images for the
thermal printer (:mod:`hardware.printers`); the print worker takes queued jobs to the printer so
the door never waits for paper.
"""
