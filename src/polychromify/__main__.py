from polychromify.cli import main

main()
