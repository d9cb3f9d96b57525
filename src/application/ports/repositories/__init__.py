"""Storage ports, a module for each part of the model. Every method that reads tenant data
takes the workspace id explicitly."""
