-- migration: m001_initial
-- migration: m002_analyses
-- migration: m003_events_and_cursors
-- migration: m004_outbox_retry_at
-- migration: m005_blame_index
-- migration: m006_learned_cases
-- migration: m007_git_facts
CREATE TABLE migrations (
	name VARCHAR(100) NOT NULL, 
	applied_at DATETIME, 
	PRIMARY KEY (name)
);
CREATE TABLE incidents (
	fingerprint VARCHAR(64) NOT NULL, 
	title TEXT NOT NULL, 
	first_seen DATETIME NOT NULL, 
	last_seen DATETIME NOT NULL, 
	count INTEGER NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	source_url TEXT, 
	issue_url TEXT, 
	issue_number INTEGER, 
	report_json TEXT NOT NULL, 
	PRIMARY KEY (fingerprint)
);
CREATE TABLE deliveries (
	fingerprint VARCHAR(64) NOT NULL, 
	reporter VARCHAR(32) NOT NULL, 
	external_id TEXT, 
	url TEXT, 
	posted_at DATETIME, 
	updated_at DATETIME, 
	reported_count INTEGER NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	lease VARCHAR(36), 
	leased_at DATETIME, 
	PRIMARY KEY (fingerprint, reporter)
);
CREATE TABLE outbox (
	fingerprint VARCHAR(64) NOT NULL, 
	reporter VARCHAR(32) NOT NULL, 
	attempts INTEGER NOT NULL, 
	last_error TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	retry_at DATETIME, 
	PRIMARY KEY (fingerprint, reporter)
);
CREATE TABLE analyses (
	"key" VARCHAR(64) NOT NULL, 
	analysis_json TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY ("key")
);
CREATE TABLE events (
	id INTEGER NOT NULL, 
	source VARCHAR(32) NOT NULL, 
	source_event_id VARCHAR(128) NOT NULL, 
	payload TEXT NOT NULL, 
	received_at DATETIME NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	worker VARCHAR(64), 
	claimed_at DATETIME, 
	attempts INTEGER NOT NULL, 
	counted BOOLEAN NOT NULL, 
	error TEXT, 
	PRIMARY KEY (id), 
	CONSTRAINT events_source_id UNIQUE (source, source_event_id)
);
CREATE TABLE cursors (
	name VARCHAR(200) NOT NULL, 
	value TEXT NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (name)
);
CREATE TABLE aliases (
	raw_fingerprint VARCHAR(64) NOT NULL, 
	fingerprint VARCHAR(64) NOT NULL, 
	PRIMARY KEY (raw_fingerprint)
);
CREATE TABLE blame_index (
	repo VARCHAR(64) NOT NULL, 
	revision VARCHAR(40) NOT NULL, 
	options VARCHAR(32) NOT NULL, 
	path TEXT NOT NULL, 
	entry_json TEXT NOT NULL, 
	bytes INTEGER NOT NULL, 
	used_at FLOAT NOT NULL, 
	PRIMARY KEY (repo, revision, options, path)
);
CREATE TABLE blame_index_stats (
	name VARCHAR(32) NOT NULL, 
	value INTEGER NOT NULL, 
	PRIMARY KEY (name)
);
CREATE TABLE learned_cases (
	repo VARCHAR(200) NOT NULL, 
	issue INTEGER NOT NULL, 
	fingerprint VARCHAR(64), 
	fix VARCHAR(40) NOT NULL, 
	found_by VARCHAR(32) NOT NULL, 
	case_json TEXT NOT NULL, 
	learned_at DATETIME NOT NULL, 
	PRIMARY KEY (repo, issue)
);
CREATE TABLE calibrations (
	repo VARCHAR(200) NOT NULL, 
	weights_json TEXT, 
	cases INTEGER NOT NULL, 
	in_use BOOLEAN NOT NULL, 
	summary_json TEXT NOT NULL, 
	fitted_at DATETIME NOT NULL, 
	PRIMARY KEY (repo)
);
CREATE TABLE git_facts (
	kind VARCHAR(16) NOT NULL, 
	"key" VARCHAR(64) NOT NULL, 
	value_json TEXT NOT NULL, 
	written_at FLOAT NOT NULL, 
	PRIMARY KEY (kind, "key")
);
