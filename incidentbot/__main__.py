from incidentbot.commands.cli import main

main()
