"""Transfer and session records -> vsftpd log, wu-ftpd xferlog."""
