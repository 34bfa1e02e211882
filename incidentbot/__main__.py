from incidentbot.cli import main

main()
