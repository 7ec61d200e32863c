from-script
