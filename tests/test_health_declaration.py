"""The health declaration (issue 13) on the kiosk: the question set (the Ministry's by default, a
venue's own from a TOML file), the venue's policy at the check-in desk on a real kiosk store (asked
once a day, refused or admitted flagged), the visit and the event carrying it, and retention."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kiosk_db
from codes import CCCD_MAU, CCCD_THU
from kiosk import retention
from kiosk.config import ConfigError as KioskConfigError
from kiosk.config import parse_config
from kiosk.credentials import recognise
from kiosk.door.checkin import CheckinDesk
from kiosk.health.declarations import DECLARATION_REFUSED, HealthPolicy, health_policy
from kiosk.health.questions import Unanswered, default_questions, load_questions, parse_questions
from mqtt.plumbing.tomlconfig import ConfigError
from mqtt.wire.event import MAX_QUESTIONS

DAY = 24 * 3600
MAU, THU = recognise(CCCD_MAU), recognise(CCCD_THU)


# -- the question set -----------------------------------------------------------------------------

def test_the_ministrys_questions_are_the_default_in_both_languages():
    questions = default_questions()
    assert questions.ids == ["fever", "cough", "breathing", "sore_throat", "taste_smell", "tiredness", "contact",
                             "from_area"]
    assert all(q.flags and q.vi.endswith("không?") and q.en.endswith("?") for q in questions)
    assert "14 ngày" in questions.text("fever", "vi") and "14 days" in questions.text("fever", "en")


VENUE_SET = '''
[[question]]
id = "fever"
vi = "Anh/chị có bị sốt không?"
en = "Do you have a fever?"

[[question]]
id = "vaccinated"
vi = "Anh/chị đã tiêm vắc-xin COVID-19 chưa?"
en = "Have you been vaccinated against COVID-19?"
flags = false
'''


def test_a_venue_adds_and_drops_questions_in_a_file_without_code(tmp_path):
    path = tmp_path / "declaration.toml"
    path.write_text(VENUE_SET, encoding="utf-8")
    config = parse_config(f'[declaration]\nrequired = true\non_yes = "flag"\nquestions = "{path}"\n')
    policy = health_policy(config.declaration)
    assert policy.questions.ids == ["fever", "vaccinated"] and policy.required and policy.on_yes == "flag"
    assert not policy.questions.flagged({"fever": False, "vaccinated": True})      # asked for the record
    assert policy.questions.flagged({"fever": True, "vaccinated": True})
    with pytest.raises(Unanswered) as left_out:
        policy.questions.answers({"fever": "yes", "vaccinated": "maybe"})
    assert left_out.value.missing == ["vaccinated"]


@pytest.mark.parametrize("text, words", [
    ('[[question]]\nid = "Fever"\nvi = "x"\nen = "x"\n', "id must be a-z"),
    ('[[question]]\nid = "fever"\nvi = "x"\nen = "x"\n[[question]]\nid = "fever"\nvi = "y"\nen = "y"\n',
     "used twice"),
    ('[[question]]\nid = "fever"\nvi = ""\nen = "x"\n', "vi must be the question"),
    ('[[question]]\nid = "fever"\nvi = "x"\n', "en must be the question"),
    ('[[question]]\nid = "fever"\nvi = "x\\u0007"\nen = "x"\n', "vi must be the question"),
    ('[[question]]\nid = "fever"\nvi = "x"\nen = "x"\nflags = "yes"\n', "flags must be true or false"),
    ('[[question]]\nid = "fever"\nvi = "x"\nen = "x"\nhint = "x"\n', "unknown key 'hint'"),
    ('[questions]\nid = "fever"\n', "must hold \\[\\[question\\]\\] tables only"),
    ("question = []\n", "1 to 32 questions"),
    ("".join(f'[[question]]\nid = "q{n}"\nvi = "x"\nen = "x"\n' for n in range(MAX_QUESTIONS + 1)),
     "1 to 32 questions, not 33"),
    ("[[question]\n", "not valid TOML"),
])
def test_a_bad_question_set_is_refused_naming_the_file_and_the_question(text, words):
    with pytest.raises(ConfigError, match=f"venue.toml: .*{words}"):
        parse_questions(text, "venue.toml")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | st.builds(
    lambda qid, vi, en: f'[[question]]\nid = {json.dumps(qid)}\nvi = {json.dumps(vi)}\nen = {json.dumps(en)}\n',
    st.text(max_size=40), st.text(max_size=220), st.text(max_size=220)))
def test_any_question_file_is_read_or_refused_with_a_message(text):
    try:
        questions = parse_questions(text, "venue.toml")
    except ConfigError as exc:
        assert str(exc).startswith("venue.toml")
    else:
        assert 1 <= len(questions) <= MAX_QUESTIONS


def test_a_missing_question_file_and_a_bad_policy_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_questions(tmp_path / "nowhere.toml")
    with pytest.raises(KioskConfigError, match="on_yes"):
        parse_config('[declaration]\non_yes = "ignore"\n')


# -- at the desk ----------------------------------------------------------------------------------

def desk(store, clock, **policy):
    return CheckinDesk(store, clock, kiosk_id="k-01", venue_id="cho-thu",
                       health=HealthPolicy(default_questions(), **policy))


def answers(*yes: str) -> dict:
    return {q: q in yes for q in default_questions().ids}


def declaration(policy_desk, clock, *yes, via="screen"):
    return policy_desk.health.declaration(answers(*yes), via=via, at=clock.now())


def test_required_a_declaration_is_asked_once_a_day_and_travels_on_each_check_in(store, clock, wall):
    d = desk(store, clock, required=True)
    asked = d.present(MAU)
    assert asked.kind == "declare" and asked.visit_id is None and kiosk_db.events(store) == []   # nothing kept
    made = declaration(d, clock)
    first = d.present(MAU, declaration=made)
    assert first.kind == "check_in"
    assert d.present(MAU).kind == "check_out"                              # leaving: no questions
    wall.advance(3600)
    again = d.present(MAU)                                                 # back the same day: not asked
    assert again.kind == "check_in"
    ins = [e for e in kiosk_db.events(store) if e["type"] == "check_in"]
    assert [e["declaration"] for e in ins] == [made, made]
    assert made["answers"] == answers() and made["flagged"] is False and made["via"] == "screen"
    visits = store.db.execute("SELECT declaration, flagged FROM visits ORDER BY check_in_at").fetchall()
    assert [(json.loads(body), flagged) for body, flagged in visits] == [(made, 0), (made, 0)]
    assert d.present(THU).kind == "declare"                                # someone else is asked
    d.present(MAU)
    wall.advance(DAY)
    assert d.present(MAU).kind == "declare"                                # a new day, a new declaration


def test_a_yes_refuses_with_the_medical_desk_sentence_and_is_not_asked_again_that_day(store, clock):
    d = desk(store, clock, required=True, on_yes="refuse")
    refused = d.present(MAU, declaration=declaration(d, clock, "cough"))
    assert (refused.kind, refused.reason) == ("refused", DECLARATION_REFUSED)
    assert d.present(MAU).reason == DECLARATION_REFUSED                    # answering again does not help
    assert kiosk_db.events(store) == [] and store.db.execute("SELECT count(*) FROM visits").fetchone()[0] == 0
    from kiosk.messages import text
    assert "y tế" in text(DECLARATION_REFUSED, "vi") and "medical" in text(DECLARATION_REFUSED, "en")


def test_a_yes_admits_flagged_where_the_venue_says_so(store, clock):
    d = desk(store, clock, required=True, on_yes="flag")
    made = declaration(d, clock, "fever", via="staff")
    assert d.present(MAU, declaration=made, method="staff_form", staff_id="s-1a2b3c4d").kind == "check_in"
    [event] = kiosk_db.events(store)
    assert event["declaration"]["flagged"] is True and event["declaration"]["answers"]["fever"] is True
    assert store.db.execute("SELECT flagged FROM visits").fetchone()[0] == 1


def test_not_required_a_declaration_made_today_still_travels_and_none_is_asked(store, clock):
    d = desk(store, clock, required=False)
    assert d.present(THU).kind == "check_in"                               # nobody asked
    d.keep_declaration(MAU, declaration(d, clock, via="staff"), staff_id="s-1a2b3c4d")   # made with staff
    assert d.present(MAU).kind == "check_in"
    events = kiosk_db.events(store)
    assert ["declaration" in e for e in events] == [False, True]


def test_retention_takes_the_days_declarations_and_the_visits_copy_with_the_visit(store, clock, wall):
    d = desk(store, clock, required=True)
    d.present(MAU, declaration=declaration(d, clock))
    d.present(MAU)
    wall.advance(DAY)
    counts = retention.purge(store, clock=clock, days=21)
    assert counts["declarations"] == 1 and counts["visits"] == 0
    assert store.db.execute("SELECT count(*) FROM declarations").fetchone()[0] == 0
    store.db.execute("UPDATE outbox SET state = 'delivered'")
    store.db.conn.commit()
    wall.advance(22 * DAY)
    assert retention.purge(store, clock=clock, days=21)["visits"] == 1
    assert store.db.execute("SELECT count(*) FROM visits WHERE declaration IS NOT NULL").fetchone()[0] == 0


def test_every_kiosk_command_refuses_a_bad_question_file_naming_it(tmp_path, capsys):
    from kiosk.cli import main
    questions = tmp_path / "declaration.toml"
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[kiosk]\ndata_dir = "{tmp_path}"\n[declaration]\nquestions = "{questions}"\n')
    assert main(["visits", "--config", str(config)]) == 2
    assert f"{questions}: config file not found" in capsys.readouterr().err
    questions.write_text('[[question]]\nid = "fever"\nvi = "Sốt?"\n', encoding="utf-8")
    assert main(["visits", "--config", str(config)]) == 2
    assert "question 1 (fever): en must be the question" in capsys.readouterr().err
    questions.write_text(VENUE_SET, encoding="utf-8")
    main(["visits", "--config", str(config)])                  # (no visits here: whatever it says of that)
    assert str(questions) not in capsys.readouterr().err
