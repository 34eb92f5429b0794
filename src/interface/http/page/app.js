// the dashboard's script
