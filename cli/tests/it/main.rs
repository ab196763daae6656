//! The integration tests, one binary (one PostgreSQL cluster per run, each test on a fresh database): the whole
//! simulator started in-process through [`app::TestApp`] and driven through its public doors.

mod app;
mod browser;
mod bulk;
mod checkup;
mod controls;
mod documents;
mod doors;
mod e2e;
mod folders;
mod home;
mod hostile;
mod layout;
mod load;
mod medical_aid;
mod medication;
mod mtls;
mod processes;
mod read_model;
mod reader;
mod replicas;
mod requery;
mod roles;
mod seed;
mod snapshots;
mod startup;
mod tour;
