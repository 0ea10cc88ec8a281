"""What rigbench sends: real text cut to exact token lengths, scripted sessions."""
