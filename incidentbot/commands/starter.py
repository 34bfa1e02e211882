"""The configuration `incidentbot init` writes: every common setting, commented, secrets left to the environment."""

STARTER = """\
# incidentbot configuration (docs/configuration.md). Flags and environment variables override this file.
# Secrets stay in the environment: SLACK_BOT_TOKEN, GITHUB_TOKEN, SENTRY_AUTH_TOKEN, OPENAI_API_KEY.

# The checkout whose history is blamed.
repo = "."

# Where stack frames live in the repository, when production paths differ (docs/path-mapping.md).
# [[path_mappings]]
# stack_root = "/srv/app/"
# source_root = ""

# Repository paths that are not yours (vendored code).
# in_app_exclude = ["third_party/"]

# Slack (docs/destinations.md): the token comes from SLACK_BOT_TOKEN.
# slack_channel = "#alerts"
# slack_reply_minutes = 10

# GitHub issues: the token comes from GITHUB_TOKEN.
# github_repository = "acme/shop"
# github_labels = ["incidentbot"]
# github_comment_minutes = 60

# Who a commit author or a CODEOWNERS team is on GitHub and Slack, when the address does not say.
# owners_file = "owners.toml"

# Sentry (docs/daemon.md): the token comes from SENTRY_AUTH_TOKEN.
# sentry_url = "https://sentry.io"
# sentry_org = "acme"
# sentry_projects = ["shop"]

# The LLM analysis (docs/llm.md): on when OPENAI_API_KEY or OPENAI_BASE_URL is set.
# model = "gpt-4o-mini"
# [llm]
# max_steps = 8

# The daemon (docs/daemon.md).
# host = "127.0.0.1"
# port = 8080
# database_url = "postgresql+psycopg://incidentbot@db/incidentbot"   # default: SQLite under ~/.local/state
"""
