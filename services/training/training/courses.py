"""The course catalogue: reference data shipped with the code, versioned with it, served at GET /courses.

The training team owns it and changes it here, under review, raising CATALOGUE_VERSION. A session
records the course as it was when scheduled (`ScheduledCourse`), so a later change to the
catalogue never rewrites what a past session was.
"""

from __future__ import annotations

from dataclasses import dataclass

from betterwork_events.contracts.training import Role, ScheduledCourse
from betterwork_events.errors import NotFound

CATALOGUE_VERSION = "2026.1"

EVERYONE = (Role.WORKER, Role.SUPERVISOR, Role.MANAGER)


@dataclass(frozen=True)
class Course:
    code: str
    title: str
    summary: str
    hours: float
    audience: tuple[Role, ...]
    pre_post_tests: bool  # participants sit a knowledge test before and after
    feedback: bool  # participants rate the course afterwards

    def as_scheduled(self) -> ScheduledCourse:
        return ScheduledCourse(
            code=self.code,
            title=self.title,
            catalogue_version=CATALOGUE_VERSION,
            hours=self.hours,
            audience=self.audience,
            pre_post_tests=self.pre_post_tests,
            feedback=self.feedback,
        )


COURSES: dict[str, Course] = {
    c.code: c
    for c in [
        Course(
            "SST",
            "Supervisory Skills Training",
            "Communication, coaching and problem solving for line supervisors, so that a line runs on "
            "respect rather than shouting; improves productivity and cuts verbal abuse.",
            16,
            (Role.SUPERVISOR,),
            pre_post_tests=True,
            feedback=True,
        ),
        Course(
            "OSH",
            "Occupational Safety and Health",
            "Hazard identification, risk assessment, fire safety, chemicals and first aid; for OSH "
            "committee members, supervisors and managers.",
            12,
            EVERYONE,
            pre_post_tests=True,
            feedback=True,
        ),
        Course(
            "HRM",
            "Human Resource Management",
            "Recruitment, contracts, working time, wages and discipline within national law, and HR systems "
            "that prevent non-compliance.",
            16,
            (Role.MANAGER,),
            pre_post_tests=True,
            feedback=True,
        ),
        Course(
            "IR-WPC",
            "Industrial Relations and Workplace Cooperation",
            "Freedom of association, collective bargaining, grievance handling and dialogue between "
            "workers' representatives and management.",
            8,
            EVERYONE,
            pre_post_tests=False,
            feedback=True,
        ),
        Course(
            "GEAR",
            "Gender Equality and Returns",
            "The women's leadership programme: soft skills and technical training that prepare women "
            "sewing operators for supervisory roles, with coaching for their managers.",
            36,
            (Role.WORKER, Role.SUPERVISOR),
            pre_post_tests=True,
            feedback=True,
        ),
        Course(
            "WRR",
            "Workers' Rights and Responsibilities",
            "What national labour law and the factory's rules give and ask of workers: contracts, pay "
            "slips, leave, overtime, and where to raise a grievance.",
            4,
            (Role.WORKER,),
            pre_post_tests=False,
            feedback=True,
        ),
        Course(
            "SHP",
            "Sexual Harassment Prevention",
            "Recognising, preventing and responding to sexual harassment; the factory's policy and its "
            "reporting channels.",
            4,
            EVERYONE,
            pre_post_tests=True,
            feedback=True,
        ),
        Course(
            "FIN",
            "Financial Literacy",
            "Budgeting, saving, debt and remittances, and reading one's pay slip.",
            6,
            (Role.WORKER, Role.SUPERVISOR),
            pre_post_tests=True,
            feedback=True,
        ),
        Course(
            "PICC",
            "PICC training",
            "For the members of the Performance Improvement Consultative Committee: its role, meetings, "
            "elections and how it follows up the factory's improvement plan.",
            8,
            EVERYONE,
            pre_post_tests=False,
            feedback=False,
        ),
    ]
}


def course_named(code: str) -> Course:
    """A course by its code, in any case."""
    found = COURSES.get(code.upper())
    if found is None:
        raise NotFound(f"no course {code} in the catalogue")
    return found
