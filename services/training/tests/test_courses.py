"""The course catalogue is coherent reference data."""

from betterwork_events.contracts.training import Role, ScheduledCourse
from training.courses import CATALOGUE_VERSION, COURSES


def test_the_catalogue_offers_better_works_courses() -> None:
    titles = {course.title for course in COURSES.values()}

    assert {"Supervisory Skills Training", "Occupational Safety and Health", "Gender Equality and Returns"} <= titles
    assert all(code == course.code for code, course in COURSES.items())


def test_every_course_has_a_length_and_an_audience_that_a_session_can_record() -> None:
    for course in COURSES.values():
        scheduled = course.as_scheduled()

        assert isinstance(scheduled, ScheduledCourse) and scheduled.catalogue_version == CATALOGUE_VERSION
        assert 0 < course.hours <= 80, course.code
        assert course.audience and set(course.audience) <= set(Role), course.code


def test_supervisory_skills_training_is_for_supervisors_and_gear_prepares_workers_to_lead() -> None:
    assert COURSES["SST"].audience == (Role.SUPERVISOR,)
    assert Role.WORKER in COURSES["GEAR"].audience
