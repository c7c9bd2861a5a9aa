"""The results catalogue (科技成果库): what universities and institutes have to transfer."""
