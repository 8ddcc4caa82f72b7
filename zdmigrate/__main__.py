from zdmigrate.cli.app import main

main()
