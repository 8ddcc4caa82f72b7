from zdmigrate.cli.main import main

main()
